"""Independent SQL Server clients for the emulator's tests, in their own pinned environment."""
