//! Compiles `proto/worker.proto`: the messages with the `wire` feature, and the gRPC
//! client and server too with `distributed` (both need `protoc`); the default build
//! compiles nothing here.

fn main() {
    #[cfg(feature = "wire")]
    {
        let grpc = cfg!(feature = "distributed");
        println!("cargo:rerun-if-changed=proto/worker.proto");
        if let Err(e) = tonic_prost_build::configure()
            .build_client(grpc)
            .build_server(grpc)
            .compile_protos(&["proto/worker.proto"], &["proto"])
        {
            panic!(
                "cannot compile proto/worker.proto: {e}\n\
                 the `distributed` and `wire` features need protoc: apt-get install -y protobuf-compiler"
            );
        }
    }
}
