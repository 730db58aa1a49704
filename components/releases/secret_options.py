"""The nova.conf options nova's own definitions mark secret (oslo.config's `secret=True`, whose
values it masks in its logs), for every release whose options the project checks: what
tools/nova_options' option data for 2025.1 and zed holds, old (deprecated) names included, with
sections as oslo.config reads them (components.ini.oslo_section). A plain novaConf value for one of
them belongs in novaConfSecret. tests/test_credentials_hidden.py compares this list with the option
data and prints the new one when a pin changes."""
from __future__ import annotations

# (section, option)
SECRET_OPTIONS = frozenset({
    ("DEFAULT", "notification_transport_url"), ("DEFAULT", "sql_connection"), ("DEFAULT", "transport_url"),
    ("amqp1", "ssl_key_password"), ("api_database", "asyncio_connection"),
    ("api_database", "asyncio_slave_connection"), ("api_database", "connection"),
    ("api_database", "slave_connection"), ("cache", "backend_argument"), ("cache", "memcache_password"),
    ("cache", "redis_password"), ("cinder", "password"), ("database", "asyncio_connection"),
    ("database", "asyncio_slave_connection"), ("database", "connection"), ("database", "slave_connection"),
    ("database", "sql_connection"), ("ironic", "password"), ("key_manager", "fixed_key"),
    ("key_manager", "password"), ("key_manager", "token"), ("keymgr", "fixed_key"), ("keystone", "password"),
    ("keystone_authtoken", "memcache_secret_key"), ("manila", "password"),
    ("neutron", "metadata_proxy_shared_secret"), ("neutron", "password"), ("oslo_limit", "password"),
    ("oslo_messaging_amqp", "ssl_key_password"), ("oslo_messaging_notifications", "transport_url"),
    ("placement", "password"), ("profiler", "hmac_keys"), ("service_user", "password"), ("sql", "connection"),
    ("vault", "approle_role_id"), ("vault", "approle_secret_id"), ("vault", "root_token_id"),
    ("vendordata_dynamic_auth", "password"), ("vmware", "host_password"),
})

# keystoneauth's plugin options marked secret, by name: a service's `auth_section` may point its
# plugin at any section, so they are secret in every section.
AUTH_PLUGIN_SECRET_OPTIONS = frozenset({
    "access_token", "application_credential_secret", "client_secret", "code", "oauth2_client_secret", "passcode",
    "password", "token",
})
