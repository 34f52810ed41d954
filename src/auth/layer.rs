//! The tower layer every request passes through: for Keyward RPCs it
//! resolves the caller once, refuses it when its credential does not hold the
//! RPC's API set, resolves the user a front end acts for (`keyward-act-as`),
//! and hands the handler a [`Caller`]. Health and reflection pass untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use super::authenticate::Authenticator;
use super::policy::policy_for;
use super::principal::Caller;

/// Wraps the services with authentication and API-set scoping.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    authenticator: Arc<Authenticator>,
}

impl AuthLayer {
    /// A layer resolving callers with `authenticator`.
    pub fn new(authenticator: Authenticator) -> Self {
        Self {
            authenticator: Arc::new(authenticator),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S> Service<http::Request<Body>> for AuthService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The ready inner service serves this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let Some(policy) = policy_for(request.uri().path()) else {
                return inner.call(request).await;
            };
            let headers = request.headers();
            let authorization = headers
                .get(http::header::AUTHORIZATION)
                .map(|value| value.to_str().unwrap_or(""));
            let act_as = headers
                .get(keyward_core::ACT_AS_METADATA)
                .map(|value| value.to_str().unwrap_or(""));
            // The API set of the RPC is judged with the credential, by the
            // same evaluation `VerifyApiKey` answers with; a front end acting for
            // a user is then narrowed to that user.
            let resolved = match authenticator.authenticate(authorization, policy).await {
                Ok(front) => match act_as {
                    Some(user) => authenticator.act_as(&front, user).await,
                    None => Ok(front),
                },
                Err(err) => Err(err),
            };
            match resolved {
                Ok(principal) => {
                    request
                        .extensions_mut()
                        .insert(Caller { principal, policy });
                    inner.call(request).await
                }
                Err(err) => Ok(Status::from(err).into_http()),
            }
        })
    }
}
