"""The engine and its contracts. `core` imports nothing from `greatleap.modules`."""
