"""The short welcome after sign-up: your profile, a few spheres, a first conversation."""
