"""Common package of the wxp services: contracts and plumbing, no business rules."""
