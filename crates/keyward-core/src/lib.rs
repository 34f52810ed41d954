//! Pure building blocks shared by the Keyward server and its clients.
#![warn(missing_docs)]

pub mod key;
pub mod key_file;
pub mod signing;
