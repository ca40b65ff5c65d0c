"""Pipeline tests run offline through the root conftest's network guard (loopback only).

No fixture here: a local ``no_network`` would shadow the root one for this folder.
"""
