//! TLS, with no HTTP in it: the certificate chain and key read from PEM files and checked (the key
//! matches the certificate, the certificate is in date), and the store that hands the current one
//! to every new handshake, swapped whole on reload so connections already made keep theirs.
//! `startup` gives the store's rustls configuration to the server.

mod certificate;
mod store;

pub use certificate::{ServingCertificate, TlsError, TlsFiles, CERT_FILE, KEY_FILE};
pub use store::{spawn_reloader, CertificateStore};
