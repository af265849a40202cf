"""omnigate: one GraphQL API in front of a retailer's POS, e-commerce, inventory and CRM."""

# The distribution's name on PyPI (pyproject.toml `name`). `omnigate` there belongs to an
# unrelated project; the command stays `omnigate`.
DISTRIBUTION = "omnigate-retail"
