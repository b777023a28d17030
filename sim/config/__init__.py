"""Reading a scenario: TOML tables to frozen, validated dataclasses (distributions, kernels, the site)."""
