class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show to the user.

    The API answers 409 Conflict for it (the request was understood but the state forbids it).
    """

    status_code = 409

    def __init__(self, message: str, *, code: str = "refused", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class InvalidInput(DomainError):
    """Input failed a business rule tied to one field; the API answers 400 with it."""

    status_code = 400

    def __init__(self, message: str, *, field: str, code: str = "invalid"):
        super().__init__(message, code=code, field=field)


class NotAllowed(DomainError):
    """The actor's role or ownership does not allow the operation; the API answers 403."""

    status_code = 403

    def __init__(
        self, message: str = "You are not allowed to do that.", *, code: str = "forbidden"
    ):
        super().__init__(message, code=code)
