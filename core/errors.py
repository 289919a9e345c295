class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show to the user."""

    def __init__(self, message: str, *, code: str = "refused", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class PermissionDenied(DomainError):
    """The actor's role or ownership does not allow the operation."""

    def __init__(self, message: str = "You are not allowed to do that.", **kwargs):
        super().__init__(message, code=kwargs.pop("code", "forbidden"), **kwargs)
