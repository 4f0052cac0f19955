//! The native enforcers of the built-in caps `http.out` and `llm.basic`.
