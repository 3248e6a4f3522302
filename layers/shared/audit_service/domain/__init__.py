"""Business rules with no AWS in them."""
