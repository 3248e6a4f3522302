"""What every HTTP function shares: the resolver, error mapping and the caller."""
