//! The address checks that keep the load generator on this machine: it connects only to
//! loopback addresses (127.0.0.0/8, ::1 and `localhost`), and rejects any other before sending
//! a byte.

use std::net::IpAddr;

/// Checks that `server` is an `http://` URL whose host is a loopback address.
pub fn check_server(server: &str) -> Result<(), String> {
    let rest = server.strip_prefix("http://").ok_or_else(|| {
        format!(
            "invalid --server {server:?}: use http://HOST:PORT with a loopback host, such as \
             http://127.0.0.1:50051"
        )
    })?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    check_host(host).map_err(|reason| format!("invalid --server {server:?}: {reason}"))
}

/// Checks that `url` is a Redis URL over TCP whose host is a loopback address.
pub fn check_redis_url(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url)
        .map_err(|error| format!("invalid --redis-url {url:?}: {error}"))?;
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, _) => {
            check_host(host).map_err(|reason| format!("invalid --redis-url {url:?}: {reason}"))
        }
        _ => Err(format!(
            "invalid --redis-url {url:?}: use redis://HOST:PORT with a loopback host, such as \
             redis://127.0.0.1:6380"
        )),
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host == "localhost" {
        return Ok(());
    }
    let address: IpAddr = host.parse().map_err(|_| {
        format!(
            "the host {host:?} is not an IP address; the load generator connects only to \
             loopback addresses (127.0.0.0/8, ::1 or localhost)"
        )
    })?;
    if !address.is_loopback() {
        return Err(format!(
            "{address} is not a loopback address; the load generator connects only to \
             127.0.0.0/8, ::1 or localhost"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_accepts_loopback() {
        for server in [
            "http://127.0.0.1:50051",
            "http://127.8.9.10:1",
            "http://[::1]:50051",
            "http://localhost:50051",
            "http://127.0.0.1:50051/",
        ] {
            assert_eq!(check_server(server), Ok(()), "{server}");
        }
    }

    #[test]
    fn server_rejects_other_hosts() {
        for server in [
            "http://10.0.0.1:50051",
            "http://192.168.1.2:50051",
            "http://[2001:db8::1]:50051",
            "http://example.com:50051",
            "http://127.0.0.1.example.com:50051",
            "https://127.0.0.1:50051",
            "127.0.0.1:50051",
        ] {
            assert!(check_server(server).is_err(), "{server}");
        }
    }

    #[test]
    fn redis_url_accepts_loopback() {
        for url in [
            "redis://127.0.0.1:6380",
            "redis://[::1]:6380/0",
            "redis://localhost:6380",
        ] {
            assert_eq!(check_redis_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn redis_url_rejects_other_hosts() {
        for url in [
            "redis://10.1.2.3:6379",
            "redis://cache:6379",
            "redis+unix:///tmp/redis.sock",
            "http://127.0.0.1:6379",
        ] {
            assert!(check_redis_url(url).is_err(), "{url}");
        }
    }
}
