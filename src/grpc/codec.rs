//! The codec of every Keyward service: prost's, except that a request body that is not a
//! valid protobuf message of the method's request type answers `INVALID_ARGUMENT` (through
//! the one error mapping, with a field violation) instead of tonic's `INTERNAL`: the caller
//! sent something wrong, and should be told so. Wired in by `build.rs` (`codec_path`).

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::{FieldViolation, ServiceError};

/// Prost's encoding; decoding that refuses malformed requests as the caller's mistake.
#[derive(Debug, Clone)]
pub struct KeywardCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for KeywardCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for KeywardCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes a request message; a malformed one is `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct RequestDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|err| Status::from(ServiceError::InvalidArgument(vec![malformed::<U>(&err)])))
    }
}

/// The violation of a request body that is not a `U`: names the type and what prost found.
fn malformed<U>(err: &prost::DecodeError) -> FieldViolation {
    let type_name = std::any::type_name::<U>();
    let message = type_name.rsplit("::").next().unwrap_or(type_name);
    FieldViolation {
        field: String::new(),
        description: format!("the request body is not a valid {message} protobuf message ({err})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_body_names_the_request_type() {
        let err = crate::grpc::pb::VerifyApiKeyRequest::decode(&[0xff_u8, 0xff, 0xff][..])
            .expect_err("not a message");
        let violation = malformed::<crate::grpc::pb::VerifyApiKeyRequest>(&err);
        assert!(
            violation.description.starts_with(
                "the request body is not a valid VerifyApiKeyRequest protobuf message ("
            ),
            "{}",
            violation.description
        );
    }
}
