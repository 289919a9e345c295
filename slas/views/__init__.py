"""SLA pages, one module per page group; ``slas.urls`` joins their routes."""
