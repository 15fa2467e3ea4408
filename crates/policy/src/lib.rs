//! RAM policy documents: parsing, validation and evaluation.
