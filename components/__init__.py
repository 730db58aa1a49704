"""openstack-nova's building blocks: one ComponentResource per concept, pure helpers beside them."""
