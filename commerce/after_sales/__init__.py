"""After-sales requests (damaged, missing, a question about an order or a product), kept in
the CRM as their system of record (docs/after-sales.md)."""
