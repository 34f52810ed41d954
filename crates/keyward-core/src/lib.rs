//! Pure building blocks shared by the Keyward server and its clients.
