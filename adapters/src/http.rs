//! The `http.request` adapter.
