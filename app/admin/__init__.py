"""Administration pages: users, roles, region scopes and scanner device tokens."""
