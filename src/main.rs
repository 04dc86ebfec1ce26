fn main() -> std::process::ExitCode {
    heimdall::cli::main()
}
