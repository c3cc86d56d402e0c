{
  description = "model-router: an OpenAI-compatible LLM gateway with its routes compiled in; one static binary and one image per environment";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package.version;
      envs = [ "base" "local" ];

      # What build.rs, the gateway and its tests read; the flake's source is what git tracks.
      common = {
        inherit version;
        src = self;
        cargoLock.lockFile = ./Cargo.lock;
      };

      # The static (musl) binary of one routes environment, as scripts/build-static makes it.
      routerFor = pkgs: env: pkgs.pkgsStatic.rustPlatform.buildRustPackage (common // {
        pname = "model-router-${env}";
        cargoBuildFlags = [ "--bin" "model-router" ];
        env.MODEL_ROUTER_ENV = env;
        # The test suite runs once, in checks.<system>.tests, not in every binary's build.
        doCheck = false;
        meta.mainProgram = "model-router";
      });

      # An image with no base layer: its only layer is the binary's closure, the binary alone.
      imageFor = pkgs: env: router: pkgs.dockerTools.buildLayeredImage {
        name = "model-router";
        tag = env;
        config = {
          Entrypoint = [ "${router}/bin/model-router" ];
          User = "65532:65532";
          ExposedPorts."4000/tcp" = { };
        };
      };

      packagesFor = system: pkgs:
        let
          routers = lib.genAttrs envs (routerFor pkgs);
          images = lib.genAttrs envs (env: imageFor pkgs env routers.${env});
        in
        routers // {
          default = routers.base;
          image-base = images.base;
          image-local = images.local;
        };
    in
    {
      packages = forAllSystems packagesFor;

      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [ cargo rustc clippy rustfmt cargo-nextest podman kubectl shellcheck hadolint ];
        };
      });

      checks = forAllSystems (system: pkgs: {
        inherit (self.packages.${system}) base local image-base image-local;

        # The workspace's tests with nextest, as the README's test command runs them.
        tests = pkgs.rustPlatform.buildRustPackage (common // {
          pname = "model-router-tests";
          env.MODEL_ROUTER_ENV = "base";
          useNextest = true;
          cargoTestFlags = [ "--workspace" ];
          doCheck = true;
        });

        # Both overlays render (the full validation is scripts/test-packaging's).
        kustomize = pkgs.runCommand "model-router-kustomize" { nativeBuildInputs = [ pkgs.kubectl ]; } ''
          mkdir -p $out
          for overlay in base local; do
            kubectl kustomize ${self}/kustomize/$overlay > $out/$overlay.yaml
          done
        '';
      });
    };
}
