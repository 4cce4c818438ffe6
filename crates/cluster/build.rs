//! Compiles `proto/worker.proto` with tonic-prost-build, only with the `distributed`
//! feature (which is what needs `protoc`); the default build compiles nothing here.

fn main() {
    #[cfg(feature = "distributed")]
    {
        println!("cargo:rerun-if-changed=proto/worker.proto");
        if let Err(e) = tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .compile_protos(&["proto/worker.proto"], &["proto"])
        {
            panic!(
                "cannot compile proto/worker.proto: {e}\n\
                 the `distributed` feature needs protoc: apt-get install -y protobuf-compiler"
            );
        }
    }
}
