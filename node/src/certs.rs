//! Cluster membership by certificate: one cluster authority signs a certificate per member
//! (nodes and the tools that talk to them), and a node talks only to peers that present one
//! (mutual TLS). The files live in one cluster folder: `ca.pem`/`ca.key` and `NAME.pem`/
//! `NAME.key` per member; a machine needs `ca.pem` and its own pair.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The name every member's certificate carries and every client checks: membership, not the
/// host name, is what a node proves.
pub const MEMBER_NAME: &str = "xisa-node";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no usable {what}")]
    Malformed { path: PathBuf, what: &'static str },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the TLS configuration is invalid: {0}")]
    Tls(String),
    #[error("member name `{0}` must be letters, digits, `-` or `_`")]
    BadName(String),
}

fn read(path: &Path) -> Result<String, CertError> {
    std::fs::read_to_string(path).map_err(|source| CertError::Read {
        path: path.into(),
        source,
    })
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), CertError> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |source| CertError::Write {
        path: path.into(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(failed)
}

/// What `init` made.
#[derive(Debug)]
pub struct Initialised {
    pub created_authority: bool,
    pub certificate: PathBuf,
}

/// Makes the cluster authority in `cluster` if there is none, and a member certificate for
/// `name` signed by it.
pub fn init(cluster: &Path, name: &str) -> Result<Initialised, CertError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CertError::BadName(name.into()));
    }
    std::fs::create_dir_all(cluster).map_err(|source| CertError::Write {
        path: cluster.into(),
        source,
    })?;
    let (ca_cert, ca_key) = (cluster.join("ca.pem"), cluster.join("ca.key"));
    let created_authority = !ca_cert.exists();
    if created_authority {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "xisa cluster authority");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let certificate = params.self_signed(&key)?;
        write(&ca_key, &key.serialize_pem(), true)?;
        write(&ca_cert, &certificate.pem(), false)?;
    }
    let authority_key = KeyPair::from_pem(&read(&ca_key)?).map_err(|_| CertError::Malformed {
        path: ca_key.clone(),
        what: "private key",
    })?;
    let issuer = Issuer::from_ca_cert_pem(&read(&ca_cert)?, authority_key).map_err(|_| {
        CertError::Malformed {
            path: ca_cert.clone(),
            what: "certificate",
        }
    })?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![MEMBER_NAME.to_string()])?;
    params.distinguished_name.push(DnType::CommonName, name);
    let certificate = params.signed_by(&key, &issuer)?;
    let path = cluster.join(format!("{name}.pem"));
    write(
        &cluster.join(format!("{name}.key")),
        &key.serialize_pem(),
        true,
    )?;
    write(&path, &certificate.pem(), false)?;
    Ok(Initialised {
        created_authority,
        certificate: path,
    })
}

/// A member's identity: the cluster authority and its own certificate and key.
pub struct Identity {
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Loads member `name` from `cluster`.
    pub fn load(cluster: &Path, name: &str) -> Result<Identity, CertError> {
        let certificates = |path: &Path| -> Result<Vec<CertificateDer<'static>>, CertError> {
            let text = read(path)?;
            let found: Vec<_> = rustls_pemfile::certs(&mut text.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| CertError::Malformed {
                    path: path.into(),
                    what: "certificate",
                })?;
            if found.is_empty() {
                return Err(CertError::Malformed {
                    path: path.into(),
                    what: "certificate",
                });
            }
            Ok(found)
        };
        let mut roots = RootCertStore::empty();
        let ca = cluster.join("ca.pem");
        for certificate in certificates(&ca)? {
            roots.add(certificate).map_err(|_| CertError::Malformed {
                path: ca.clone(),
                what: "authority certificate",
            })?;
        }
        let key_path = cluster.join(format!("{name}.key"));
        let key = rustls_pemfile::private_key(&mut read(&key_path)?.as_bytes())
            .ok()
            .flatten()
            .ok_or(CertError::Malformed {
                path: key_path,
                what: "private key",
            })?;
        Ok(Identity {
            roots: Arc::new(roots),
            chain: certificates(&cluster.join(format!("{name}.pem")))?,
            key,
        })
    }

    // ring builds from the registry with the C compiler alone; the provider rustls now
    // prefers (aws-lc-rs, with post-quantum key exchange) needs CMake and more.
    #[allow(deprecated)]
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A server that accepts only clients with a member certificate.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, CertError> {
        let tls = |e: rustls::Error| CertError::Tls(e.to_string());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), Self::provider())
                .build()
                .map_err(|e| CertError::Tls(e.to_string()))?;
        let config = ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(tls)?;
        Ok(Arc::new(config))
    }

    /// A client that presents its member certificate and accepts only member servers.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, CertError> {
        let tls = |e: rustls::Error| CertError::Tls(e.to_string());
        let config = ClientConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(tls)?;
        Ok(Arc::new(config))
    }
}

/// The name a client checks in a node's certificate.
pub fn member_server_name() -> ServerName<'static> {
    ServerName::try_from(MEMBER_NAME).expect("a valid DNS name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_one_cluster_load_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let first = init(dir.path(), "a").unwrap();
        assert!(first.created_authority);
        assert!(!init(dir.path(), "b").unwrap().created_authority);
        let identity = Identity::load(dir.path(), "b").unwrap();
        identity.server_config().unwrap();
        identity.client_config().unwrap();
        assert!(matches!(
            init(dir.path(), "../x"),
            Err(CertError::BadName(_))
        ));
        assert!(matches!(
            Identity::load(dir.path(), "nobody"),
            Err(CertError::Read { .. })
        ));
    }
}
