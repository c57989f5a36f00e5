"""Messaging providers: the interface (base), HTTP plumbing (http), the registry, one package each."""
