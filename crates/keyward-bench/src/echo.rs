//! The baseline: a bare tonic echo service (`proto/echo.proto`) served exactly as Keyward
//! serves (`Server::builder()` with `TCP_NODELAY` on the same tokio multi-thread runtime),
//! without authentication, tracing (no subscriber, and none of tonic's spans offered to the
//! `log` crate: see `without_tracing` in `main.rs`) or work. Its request is padded to the encoded size of
//! the VerifyApiKey request the benchmark sends Keyward, and it answers with a message of
//! the encoded size of a valid VerifyApiKey response, so that both move the same bytes.

use std::net::SocketAddr;

use bytes::Bytes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::Result;

/// Generated from `proto/echo.proto`.
#[allow(clippy::all, clippy::pedantic, unreachable_pub, missing_docs)]
pub(crate) mod pb {
    tonic::include_proto!("bench.echo.v1");
}

use pb::echo_service_server::{EchoService, EchoServiceServer};
use pb::{EchoRequest, EchoResponse};

/// The gRPC path of the echo method.
pub(crate) const PATH: &str = "/bench.echo.v1.EchoService/Echo";

struct Echo {
    payload: Bytes,
}

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, _request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            payload: self.payload.clone(),
        }))
    }
}

/// `keyward-bench echo`: serves on `listen` until killed, answering messages of
/// `response_size` encoded bytes.
pub(crate) async fn serve(listen: SocketAddr, response_size: usize) -> Result<()> {
    let payload = Bytes::from(vec![0x5a; payload_len_for(response_size)]);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    Server::builder()
        .add_service(EchoServiceServer::new(Echo { payload }))
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await?;
    Ok(())
}

/// The length of a `bytes payload = 1` field's content that makes the message
/// `encoded_size` bytes long (tag + length varint + content).
pub(crate) fn payload_len_for(encoded_size: usize) -> usize {
    (0..encoded_size)
        .rev()
        .find(|len| 1 + prost::length_delimiter_len(*len) + len <= encoded_size)
        .unwrap_or(0)
}

/// An echo request body (gRPC frame) of exactly `frame_len` bytes when possible: what the
/// benchmark sends in place of a VerifyApiKey request of that size.
pub(crate) fn request_body(frame_len: usize) -> Bytes {
    let message_len = frame_len.saturating_sub(5);
    let request = EchoRequest {
        payload: Bytes::from(vec![0xa5; payload_len_for(message_len)]),
    };
    crate::keys::grpc_frame(&request)
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn payloads_fill_the_message_to_the_byte_or_one_short() {
        for size in [3, 10, 127, 128, 129, 130, 131, 300, 16_385] {
            let message = EchoResponse {
                payload: Bytes::from(vec![0; payload_len_for(size)]),
            };
            // Where the length varint grows by a byte, one size cannot be reached.
            let short = size - message.encoded_len();
            assert!(short <= 1, "size {size}: {} bytes", message.encoded_len());
        }
        assert_eq!(request_body(100).len(), 100);
    }
}
