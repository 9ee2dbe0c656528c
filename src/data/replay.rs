//! Transitions (s, a, r, s', done) and uniform replay sampling.
