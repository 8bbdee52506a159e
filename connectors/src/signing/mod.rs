//! Request signing for the vendors that need it.
