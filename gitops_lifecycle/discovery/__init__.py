"""Service discovery: ProxyConfigs and labelled Services into Authentik, and orphan cleanup."""
