//! gRPC client adapter: implements [`JobsApi`] over a tonic channel. Server errors come back as the same
//! [`JobsError`] variant; transport failures are `Unavailable`.

use async_trait::async_trait;
use cang_proto::cang::jobs::v1 as pb;
use cang_proto::cang::jobs::v1::jobs_client::JobsClient;
use cang_telemetry::GrpcClientLayer;
use cang_telemetry::propagation::GrpcClientService;
use futures::StreamExt;
use tonic::transport::{Channel, ClientTlsConfig};
use tower::Layer;

use crate::{Job, JobSpec, JobStream, JobsApi, JobsError};

/// How long a unary call may take.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A [`JobsApi`] speaking gRPC to a gateway's jobs listener.
#[derive(Debug, Clone)]
pub struct JobsGrpcClient {
    inner: JobsClient<GrpcClientService<Channel>>,
}

impl JobsGrpcClient {
    /// Uses an existing channel.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: JobsClient::new(GrpcClientLayer.layer(channel)),
        }
    }

    /// A client for `address` (`host:port`) over mTLS; connects on first use.
    pub fn connect_lazy(address: &str, tls: ClientTlsConfig) -> Result<Self, cang_tls::TlsError> {
        Ok(Self::new(cang_tls::endpoint(address, tls)?.connect_lazy()))
    }

    fn client(&self) -> JobsClient<GrpcClientService<Channel>> {
        self.inner.clone()
    }
}

fn unary<T>(msg: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    request.set_timeout(DEADLINE);
    request
}

fn job(reply: tonic::Response<pb::Job>) -> Result<Job, JobsError> {
    reply.into_inner().try_into()
}

#[async_trait]
impl JobsApi for JobsGrpcClient {
    async fn start_job(&self, spec: JobSpec, rate: Option<f64>) -> Result<Job, JobsError> {
        let request = pb::StartJobRequest {
            spec: Some((&spec).into()),
            rate,
        };
        job(self.client().start_job(unary(request)).await?)
    }

    async fn get_job(&self, id: &str) -> Result<Job, JobsError> {
        job(self
            .client()
            .get_job(unary(pb::JobRef { id: id.to_owned() }))
            .await?)
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, JobsError> {
        let reply = self
            .client()
            .list_jobs(unary(pb::ListJobsRequest {}))
            .await?
            .into_inner();
        reply.jobs.into_iter().map(Job::try_from).collect()
    }

    async fn cancel_job(&self, id: &str) -> Result<Job, JobsError> {
        job(self
            .client()
            .cancel_job(unary(pb::JobRef { id: id.to_owned() }))
            .await?)
    }

    async fn watch_job(&self, id: &str) -> Result<JobStream, JobsError> {
        // No deadline: a watch lasts as long as the job.
        let stream = self
            .client()
            .watch_job(tonic::Request::new(pb::JobRef { id: id.to_owned() }))
            .await?
            .into_inner();
        Ok(stream
            .map(|m| m.map_err(JobsError::from).and_then(Job::try_from))
            .boxed())
    }
}
