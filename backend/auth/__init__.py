"""Users, roles and scope, phone devices and their tokens."""
