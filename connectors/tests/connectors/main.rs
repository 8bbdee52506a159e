//! Connector tests: one binary, one module per concern.

mod common;

mod http;
mod regions;
mod scheduler;
mod signing;
mod sync;

mod alibaba;
mod aws;
mod azure;
mod ctyun;
mod gcp;
mod ibm;
mod kingsoft;
mod tencent;
mod ucloud;
