//! A SoftHSM2 token for tests, in the test's own directory (SOFTHSM2_CONF points at it): made
//! with `softhsm2-util --init-token`, the test PKI's signer key imported with
//! `softhsm2-util --import` and its certificate written beside it with `pkcs11-tool`, both
//! under one label, as an HSM holding a facility's seal or an HPKI card holds them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pki::TestPki;

/// Where Debian's softhsm2 package puts the module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[derive(Debug, Clone)]
pub struct SoftHsm {
    /// The value for SOFTHSM2_CONF in the environment of whatever loads the module.
    pub conf: PathBuf,
    pub module: PathBuf,
    pub token_label: String,
    pub key_label: String,
    pub pin: String,
}

fn run(conf: &Path, program: &str, args: &[&str]) {
    let out =
        Command::new(program).args(args).env("SOFTHSM2_CONF", conf).output().unwrap_or_else(|e| panic!("{program} could not start: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SoftHsm {
    /// A token labelled `kiroku-seal` holding `pki`'s signer key and certificate (label `seal`);
    /// `None` (with the loud skip, or a failure in CI) when SoftHSM2 or OpenSC is absent.
    pub fn with_signer(dir: &Path, pki: &TestPki) -> Option<Self> {
        let present = Path::new(SOFTHSM_MODULE).exists()
            && Command::new("softhsm2-util").arg("--version").output().is_ok_and(|o| o.status.success())
            && Command::new("pkcs11-tool").arg("--help").output().is_ok();
        if !present {
            crate::missing_peer("SoftHSM2 and pkcs11-tool", "apt-get install -y softhsm2 opensc");
            return None;
        }
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).expect("token dir");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(&conf, format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()))
            .expect("softhsm2.conf");
        let hsm = Self {
            conf: conf.clone(),
            module: PathBuf::from(SOFTHSM_MODULE),
            token_label: "kiroku-seal".into(),
            key_label: "seal".into(),
            pin: "1234-seal".into(),
        };
        let (token, label, pin) = (hsm.token_label.as_str(), hsm.key_label.as_str(), hsm.pin.as_str());
        run(&conf, "softhsm2-util", &["--init-token", "--free", "--label", token, "--so-pin", "5678-so", "--pin", pin]);
        let key = pki.signer_key.display().to_string();
        run(&conf, "softhsm2-util", &["--import", &key, "--token", token, "--label", label, "--id", "01", "--pin", pin]);
        let der = dir.join("seal.der");
        crate::pki::openssl(
            dir,
            &["x509", "-in", &pki.signer_cert.display().to_string(), "-outform", "DER", "-out", &der.display().to_string()],
        );
        let module = hsm.module.display().to_string();
        let der = der.display().to_string();
        run(
            &conf,
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                token,
                "--login",
                "--pin",
                pin,
                "--write-object",
                &der,
                "--type",
                "cert",
                "--label",
                label,
                "--id",
                "01",
            ],
        );
        Some(hsm)
    }
}
