"""The merged customer profile: CRM, POS and e-commerce identities matched and merged, its
MongoDB cache served stale-while-revalidate, and the CRM change poll that invalidates it."""
