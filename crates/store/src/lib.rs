//! The incremental score store under .taxonomist/.
