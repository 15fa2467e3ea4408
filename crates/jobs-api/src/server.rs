//! gRPC server adapter: decodes requests into domain types (validating), calls the [`JobsApi`], encodes
//! results. Only the admin certificate is admitted.

use std::pin::Pin;
use std::sync::Arc;

use cang_proto::cang::jobs::v1 as pb;
use cang_proto::cang::jobs::v1::jobs_server::{Jobs, JobsServer};
use cang_tls::{IdentityInterceptor, ServiceIdentity, identity_interceptor};
use futures::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use crate::{JobSpec, JobsApi, JobsError};

/// The identities allowed to call the jobs service: the operator's CLI (and, through it, whoever holds the
/// admin certificate). Jobs act on every account's objects; nothing else may start them.
pub static JOBS_CALLERS: &[ServiceIdentity] = &[ServiceIdentity::Admin];

/// Serves any [`JobsApi`] over gRPC.
pub struct JobsGrpcServer<J> {
    inner: Arc<J>,
}

impl<J> std::fmt::Debug for JobsGrpcServer<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobsGrpcServer").finish_non_exhaustive()
    }
}

impl<J: JobsApi + 'static> JobsGrpcServer<J> {
    /// Wraps the runner.
    pub fn new(inner: Arc<J>) -> Self {
        Self { inner }
    }

    /// The tonic service, admitting only [`JOBS_CALLERS`].
    pub fn into_service(self) -> InterceptedService<JobsServer<Self>, IdentityInterceptor> {
        InterceptedService::new(JobsServer::new(self), identity_interceptor(JOBS_CALLERS))
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl<J: JobsApi + 'static> Jobs for JobsGrpcServer<J> {
    async fn start_job(&self, request: Request<pb::StartJobRequest>) -> Reply<pb::Job> {
        let request = request.into_inner();
        let spec: JobSpec = request
            .spec
            .ok_or_else(|| JobsError::InvalidArgument("a job without a spec".into()))?
            .try_into()?;
        let job = self.inner.start_job(spec, request.rate).await?;
        Ok(Response::new((&job).into()))
    }

    async fn get_job(&self, request: Request<pb::JobRef>) -> Reply<pb::Job> {
        let job = self.inner.get_job(&request.into_inner().id).await?;
        Ok(Response::new((&job).into()))
    }

    async fn list_jobs(&self, _request: Request<pb::ListJobsRequest>) -> Reply<pb::ListJobsResponse> {
        let jobs = self.inner.list_jobs().await?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(Into::into).collect(),
        }))
    }

    async fn cancel_job(&self, request: Request<pb::JobRef>) -> Reply<pb::Job> {
        let job = self.inner.cancel_job(&request.into_inner().id).await?;
        Ok(Response::new((&job).into()))
    }

    type WatchJobStream = Pin<Box<dyn Stream<Item = Result<pb::Job, Status>> + Send>>;

    async fn watch_job(&self, request: Request<pb::JobRef>) -> Reply<Self::WatchJobStream> {
        let stream = self.inner.watch_job(&request.into_inner().id).await?;
        Ok(Response::new(
            stream
                .map(|r| r.map(|job| pb::Job::from(&job)).map_err(Status::from))
                .boxed(),
        ))
    }
}

/// Serves `jobs` on `listener` with mutual TLS (`tls` requires a client certificate; only the admin's is
/// admitted) until `shutdown` resolves.
pub async fn serve<J: JobsApi + 'static>(
    jobs: Arc<J>,
    tls: tonic::transport::ServerTlsConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), String> {
    cang_tls::server_builder(tls)
        .map_err(|e| e.to_string())?
        .layer(cang_telemetry::GrpcServerLayer)
        .add_service(JobsGrpcServer::new(jobs).into_service())
        .serve_with_incoming_shutdown(cang_tls::incoming(listener), shutdown)
        .await
        .map_err(|e| e.to_string())
}
