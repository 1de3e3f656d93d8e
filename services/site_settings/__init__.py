"""Site settings: what administrators configure in the database (platform name and logo,
registration, default limits and quotas, course approval, the support address), read through
a per-process cache that a Redis version number invalidates exactly, and audited."""
