// Keeps the library non-empty while backends are written.
