//! Floor measurement for `bench/run.sh`: how long a plain IMAP client takes
//! to read a whole mailbox, i.e. the least any IMAP intake can spend.
//!
//!     cargo run --release --example bench_fetch -- PORT USER [FOLDER] [count]
//!
//! Connects to 127.0.0.1:PORT without TLS, logs in as USER with the mail
//! stack's password "secret", SELECTs FOLDER (default INBOX) and runs
//! `UID FETCH 1:* BODY.PEEK[]`, collecting every body in memory. Prints one
//! line of `key=value` pairs: messages, bytes, connect_s (connect + login +
//! select), fetch_s (the FETCH alone) and total_s. With `count` it only
//! SELECTs and prints `exists=N` (used to check the load before timing).

use std::time::Instant;

use futures::TryStreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().expect("PORT").parse()?;
    let user = args.get(1).expect("USER");
    let folder = args.get(2).map(String::as_str).unwrap_or("INBOX");
    let count_only = args.get(3).map(String::as_str) == Some("count");

    let t0 = Instant::now();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await?;
    let mut s = client.login(user, "secret").await.map_err(|(e, _)| e)?;
    let mb = s.select(folder).await?;
    if count_only {
        println!("exists={}", mb.exists);
        s.logout().await.ok();
        return Ok(());
    }
    let t1 = Instant::now();
    let fetched: Vec<_> = s
        .uid_fetch("1:*", "BODY.PEEK[]")
        .await?
        .try_collect()
        .await?;
    let t2 = Instant::now();
    let bytes: usize = fetched
        .iter()
        .filter_map(|f| f.body())
        .map(<[u8]>::len)
        .sum();
    println!(
        "messages={} bytes={} connect_s={:.4} fetch_s={:.4} total_s={:.4}",
        fetched.len(),
        bytes,
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64()
    );
    s.logout().await.ok();
    Ok(())
}
