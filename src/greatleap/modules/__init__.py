"""The mechanisms: one module each, every one a `greatleap.core.module.Module`."""
