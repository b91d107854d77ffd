//! Carries a post-copy page stream ([`xisa_format::page_stream`]) between the side that
//! asks for pages and the side that serves them: on the source node from the TLS connection
//! to the held guest's local socket, on the destination node from the restore's local socket
//! to the TLS connection. The relay understands the stream, so it knows when the move is
//! done and how much it carried.

use std::io::{self, Read, Write};

use xisa_format::page_stream::{
    ABORT, DONE, STORED, is_next, next_parts, read_header, read_u64, write_header,
};

const PAGE: usize = 4096;

/// What a relayed stream carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relayed {
    /// The destination said it holds every page.
    pub done: bool,
    pub pages: u64,
    /// Page bytes carried (pages that hold their initial contents carry none).
    pub bytes: u64,
}

/// Relays `server`'s header to `client`, then each of `client`'s requests and its answer,
/// until the stream ends (`done`, an abort, or either side going away).
pub fn relay(
    client: &mut (impl Read + Write),
    server: &mut (impl Read + Write),
) -> io::Result<Relayed> {
    let ranges = read_header(server)?;
    write_header(client, &ranges)?;
    client.flush()?;
    let mut relayed = Relayed::default();
    let mut page = [0u8; PAGE];
    loop {
        let address = match read_u64(client) {
            Ok(address) => address,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(relayed),
            Err(error) => return Err(error),
        };
        server.write_all(&address.to_le_bytes())?;
        server.flush()?;
        // A `NEXT` request is answered by up to its count of pages, each with its address,
        // ending early when none is left; any other by one answer.
        let (next, answers) = match is_next(address) {
            true => (true, next_parts(address).1),
            false => (false, 1),
        };
        for _ in 0..answers {
            let mut kind = [0u8; 1];
            server.read_exact(&mut kind)?;
            client.write_all(&kind)?;
            let stored = kind[0] == STORED;
            if stored {
                if next {
                    client.write_all(&read_u64(server)?.to_le_bytes())?;
                }
                server.read_exact(&mut page)?;
                client.write_all(&page)?;
                relayed.bytes += PAGE as u64;
            }
            // Every answer to a page request is a page taken, but the end of a `NEXT` batch.
            if (stored || !next) && !matches!(address, DONE | ABORT) {
                relayed.pages += 1;
            }
            if !stored {
                break;
            }
        }
        client.flush()?;
        match address {
            DONE => {
                relayed.done = true;
                return Ok(relayed);
            }
            ABORT => return Ok(relayed),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use xisa_format::page_stream::INITIAL;

    #[test]
    fn a_relay_carries_header_pages_and_done() {
        let (mut client, mut client_end) = UnixStream::pair().unwrap();
        let (mut server, mut server_end) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || relay(&mut client_end, &mut server_end));
        let served = 0x1000..0x3000;
        write_header(&mut server, std::slice::from_ref(&served)).unwrap();
        assert_eq!(read_header(&mut client).unwrap(), [served]);
        for (address, answer) in [(0x1000u64, STORED), (0x2000, INITIAL)] {
            client.write_all(&address.to_le_bytes()).unwrap();
            assert_eq!(read_u64(&mut server).unwrap(), address);
            server.write_all(&[answer]).unwrap();
            if answer == STORED {
                server.write_all(&[7u8; PAGE]).unwrap();
            }
            let mut kind = [0u8; 1];
            client.read_exact(&mut kind).unwrap();
            assert_eq!(kind[0], answer);
            if answer == STORED {
                let mut page = [0u8; PAGE];
                client.read_exact(&mut page).unwrap();
                assert_eq!(page, [7u8; PAGE]);
            }
        }
        client.write_all(&DONE.to_le_bytes()).unwrap();
        assert_eq!(read_u64(&mut server).unwrap(), DONE);
        server.write_all(&[INITIAL]).unwrap();
        let relayed = relay.join().unwrap().unwrap();
        assert_eq!(
            relayed,
            Relayed {
                done: true,
                pages: 2,
                bytes: PAGE as u64
            }
        );
    }

    #[test]
    fn a_client_that_goes_away_ends_the_relay_without_done() {
        let (mut client, mut client_end) = UnixStream::pair().unwrap();
        let (mut server, mut server_end) = UnixStream::pair().unwrap();
        let relay = std::thread::spawn(move || relay(&mut client_end, &mut server_end));
        let served = 0x1000..0x2000;
        write_header(&mut server, std::slice::from_ref(&served)).unwrap();
        read_header(&mut client).unwrap();
        drop(client);
        let relayed = relay.join().unwrap().unwrap();
        assert!(!relayed.done);
    }
}
