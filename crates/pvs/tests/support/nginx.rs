//! nginx with the project's own routes (`deploy/nginx/locations.conf`, `http.conf`) in front
//! of pvs services, published under a path prefix by an outer proxy, as a site runs it.

use std::process::{Command, Stdio};
use std::time::Duration;

use pvs_test_support::{Process, Signal, answers_ok, free_port, wait_for};

use super::run;

const LOCATIONS_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/nginx/locations.conf"
);
const HTTP_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nginx/http.conf");

/// nginx on `deploy/nginx/locations.conf` (the compose stack's routes, its upstreams
/// replaced by the services' addresses), served under `/pvs/` by an outer server that sends
/// `X-Forwarded-Host`, `X-Forwarded-Proto` and `X-Forwarded-Prefix: /pvs`. Stopped (SIGTERM,
/// then killed) when dropped.
pub struct Nginx {
    _process: Process,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/pvs`.
    pub base: String,
}

impl Nginx {
    pub async fn start(renderer: &str, cache: &str, ingestor: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        // The workers (nobody, when started as root) write temporary files here.
        for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir(path.join(temp)).unwrap();
        }
        run(Command::new("chmod").args(["-R", "a+rwx"]).arg(path));

        // Only the three upstream lines change; each must be there.
        let mut locations = std::fs::read_to_string(LOCATIONS_CONF).unwrap();
        for (name, upstream) in [
            ("renderer", renderer),
            ("cache", cache),
            ("ingestor", ingestor),
        ] {
            let line = format!("set $pvs_{name} http://{name}:8080;");
            assert_eq!(
                locations.matches(&line).count(),
                1,
                "deploy/nginx/locations.conf has no line `{line}`: update this test"
            );
            let upstream = upstream.trim_start_matches("http://");
            locations = locations.replace(&line, &format!("set $pvs_{name} http://{upstream};"));
        }
        std::fs::write(path.join("locations.conf"), locations).unwrap();
        std::fs::copy(HTTP_CONF, path.join("http.conf")).unwrap();

        let inner = free_port();
        let outer = free_port();
        let dir_text = path.display();
        let conf = format!(
            r#"worker_processes 1;
error_log {dir_text}/error.log warn;
pid {dir_text}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    include {dir_text}/http.conf;
    access_log {dir_text}/access.log pvs;
    client_body_temp_path {dir_text}/client_body;
    proxy_temp_path {dir_text}/proxy;
    fastcgi_temp_path {dir_text}/fastcgi;
    uwsgi_temp_path {dir_text}/uwsgi;
    scgi_temp_path {dir_text}/scgi;

    # The project's proxy (deploy/nginx/pvs.conf without its /ingest).
    server {{
        listen 127.0.0.1:{inner};
        include {dir_text}/locations.conf;
    }}

    # A site proxy publishing it under /pvs/ as docs/operations.md says (the path passed on
    # as the client sent it, letting bodies larger than pvs accepts through, so that pvs
    # answers them).
    map $request_uri $pvs_request {{
        ~^/pvs(?<rest>/.*)$ $rest;
        default /;
    }}
    server {{
        listen 127.0.0.1:{outer};
        location /pvs/ {{
            client_max_body_size 2m;
            proxy_pass http://127.0.0.1:{inner}$pvs_request;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Prefix /pvs;
        }}
    }}
}}
"#
        );
        let conf_path = path.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let process = Process::spawn(
            Command::new("nginx")
                .arg("-p")
                .arg(path)
                .arg("-c")
                .arg(&conf_path)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .stop_on_drop(Signal::Term, Duration::from_secs(5));
        let nginx = Self {
            _process: process,
            dir,
            base: format!("http://127.0.0.1:{outer}/pvs"),
        };
        let health = format!("{}/proxy-health", nginx.base);
        wait_for(Duration::from_secs(10), "nginx to start", async || {
            if answers_ok(&health).await {
                Ok(())
            } else {
                Err(nginx.error_log())
            }
        })
        .await;
        nginx
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}
