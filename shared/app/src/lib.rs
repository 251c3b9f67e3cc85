//! rentops-app
