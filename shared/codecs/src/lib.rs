//! rentops-codecs
