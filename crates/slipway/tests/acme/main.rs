//! Automatic certificates end to end: `slipway up` with an ACME directory, Pebble (Let's
//! Encrypt's RFC 8555 test server, Debian package `pebble`) on loopback as the CA, and a
//! dnsmasq that resolves every name to 127.0.0.1, so Pebble's real HTTP-01 validation reaches
//! the edge router's plain listener. A custom domain added to a running app gets a certificate,
//! which is served over HTTPS, renewed, and used for the domain's HTTPS redirect.
//!
//! The CA comes from the router's tests (`crates/slipway-router/tests/pebble/mod.rs`); it needs
//! `pebble`, `dnsmasq` and `openssl` and fails naming them when missing. Nothing here reaches the
//! internet.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use slipway_testkit::eventually;
use slipway_testkit::platform::Platform;
use slipway_testkit::source::Source;
use tokio::process::Command;

const DOMAIN: &str = "shop.test";

/// The serial number of the certificate the TLS listener serves for `name`, read with
/// `openssl s_client` (so the test sees exactly what a client sees).
async fn served_serial(tls: SocketAddr, name: &str) -> Option<String> {
    let script = format!(
        "openssl s_client -connect {tls} -servername {name} </dev/null 2>/dev/null | openssl x509 -noout -serial -subject -ext subjectAltName"
    );
    let output = Command::new("sh").arg("-c").arg(script).output().await.ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    // The local CA's fallback leaf names only localhost; a Pebble leaf names the domain.
    text.contains(&format!("DNS:{name}")).then(|| text.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_domain_gets_a_certificate_from_the_acme_ca_served_renewed_and_redirected_to() {
    let mut pebble = slipway_testkit::pebble::Pebble::prepare();

    // Renewal is due as soon as a certificate is issued (36500 days before expiry), so the test
    // sees a renewal without waiting weeks; the default is 30 days.
    let directory = pebble.directory_url();
    let ca_root = pebble.api_cert.display().to_string();
    let env = [
        ("SLIPWAY_HTTPS_ADDR", "127.0.0.1:0"),
        ("SLIPWAY_ACME_DIRECTORY", directory.as_str()),
        ("SLIPWAY_ACME_CA_ROOT", ca_root.as_str()),
        ("SLIPWAY_ACME_RENEW_BEFORE", "36500d"),
    ];
    let platform = Platform::start("acme", &env).await;
    let app = platform.create_app("acme", "shop").await;
    let token = platform.create_token("git").await;
    let source = Source::example(&platform.home, "static", "shop").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 1, "{}", push.output);
    let page = source.read("public/index.html");
    let router_port: u16 = platform.router.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
    let project = platform
        .api(reqwest::Method::GET, &format!("/v1/workspaces/{}/projects/{}", app.workspace, app.name), None)
        .await;
    let url = project["url"].as_str().unwrap().to_owned();
    let tls_port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the URL names the TLS port");
    let tls = SocketAddr::from(([127, 0, 0, 1], tls_port));

    // Pebble validates HTTP-01 on the router's plain port.
    pebble.start(router_port).await;
    let root = pebble.root_pem().await;
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&root).unwrap())
        .resolve(DOMAIN, tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let https_url = format!("https://{DOMAIN}:{tls_port}/");

    // Adding the domain to the running app: certificate ordered, validated, stored and served.
    platform.cli_ok(&app, &["domains:add", DOMAIN]).await;
    let served =
        eventually("the domain to be served with a certificate from Pebble", Duration::from_secs(60), async || {
            let response = client.get(&https_url).send().await.ok()?;
            if response.status() == 200 {
                response.text().await.ok()
            } else {
                None
            }
        })
        .await;
    assert_eq!(served, page);
    let first = served_serial(tls, DOMAIN).await.expect("a Pebble certificate for the domain is served");

    // Renewal: a new certificate replaces the first without a restart.
    eventually("the certificate to be renewed", Duration::from_secs(60), async || {
        served_serial(tls, DOMAIN).await.filter(|serial| *serial != first)
    })
    .await;
    let response = client.get(&https_url).send().await.expect("served with the renewed certificate");
    assert_eq!(response.status(), 200);

    // The HTTPS redirect of the route: plain HTTP for the domain answers 308 to https://.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get_plain = || plain.get(format!("http://{}/a?b=c", platform.router)).header("host", DOMAIN).send();
    assert_eq!(get_plain().await.unwrap().status(), 200, "no redirect before it is asked for");
    let said = platform.cli_ok(&app, &["domains:https-redirect", DOMAIN]).await;
    assert!(said.contains("now redirects"), "{said}");
    let response = eventually("plain HTTP to redirect", Duration::from_secs(10), async || {
        let response = get_plain().await.unwrap();
        (response.status() == 308).then_some(response)
    })
    .await;
    assert_eq!(response.headers()["location"], format!("https://{DOMAIN}/a?b=c"));
    assert!(platform.cli_ok(&app, &["domains"]).await.contains(&format!("{DOMAIN}  (HTTP redirects to HTTPS)")));
    // ACME challenges are never redirected, whatever the flag.
    let challenge = plain
        .get(format!("http://{}/.well-known/acme-challenge/unknown", platform.router))
        .header("host", DOMAIN)
        .send()
        .await
        .unwrap();
    assert_ne!(challenge.status(), 308);

    // Bad input: a hostname the app does not have, and a hostile one; nothing changes.
    let refused = platform.cli(&app, &["domains:https-redirect", "other.test"]).await;
    assert_eq!(refused.status.code(), Some(4), "not found exits 4");
    let hostile = platform.cli(&app, &["domains:https-redirect", "../../x y%00"]).await;
    assert!(!hostile.status.success());
    assert_eq!(get_plain().await.unwrap().status(), 308, "the refused calls changed nothing");
    platform.cli_ok(&app, &["domains:https-redirect", DOMAIN, "--off"]).await;
    eventually("the redirect to stop", Duration::from_secs(10), async || {
        (get_plain().await.unwrap().status() == 200).then_some(())
    })
    .await;
}
