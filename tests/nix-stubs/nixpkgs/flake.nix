# A stand-in for nixpkgs, for evaluating model-router's flake.nix offline:
#
#   nix flake check --offline --no-write-lock-file \
#     --override-input nixpkgs path:$PWD/tests/nix-stubs/nixpkgs
#
# It implements only the functions and packages that flake.nix uses, and each function asserts
# on the arguments the flake passes, so a wrong argument fails evaluation here as it would
# (or silently would not) with the real nixpkgs. Its derivations build in a moment with
# /bin/sh: the binaries they "build" are shell scripts that say they are stubs.
{
  description = "Test stub of the nixpkgs functions model-router's flake.nix calls";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      envs = [ "base" "local" ];

      lib = {
        genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
      };

      check = cond: msg: if cond then true else throw "nix-stubs: ${msg}";
      hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
      hasSuffix = suffix: s:
        let n = builtins.stringLength s; m = builtins.stringLength suffix;
        in n >= m && builtins.substring (n - m) m s == suffix;

      pkgsFor = system:
        let
          # A derivation built by /bin/sh running `script` with $out set.
          stub = name: script: attrs: derivation ({
            inherit name system;
            builder = "/bin/sh";
            args = [ "-c" script ];
            PATH = "/usr/local/bin:/usr/bin:/bin";
          } // attrs);

          tool = name: stub name ''
            mkdir -p $out/bin
            printf '#!/bin/sh\necho "stub ${name}"\n' > $out/bin/${name}
            chmod +x $out/bin/${name}
          '' { pname = name; };

          # rustPlatform.buildRustPackage: what the flake must pass for a binary or a test run.
          buildRustPackage = static: args:
            let
              src = args.src;
              env = (args.env or { }).MODEL_ROUTER_ENV or null;
            in
            assert check (args ? pname && args ? version) "buildRustPackage needs pname and version";
            assert check (builtins.pathExists "${src}/Cargo.toml") "src has no Cargo.toml";
            assert check (builtins.pathExists "${src}/Cargo.lock") "src has no Cargo.lock";
            assert check (args ? cargoLock && builtins.pathExists args.cargoLock.lockFile)
              "cargoLock.lockFile must name the committed Cargo.lock";
            assert check (builtins.elem env envs) "env.MODEL_ROUTER_ENV must be base or local, got ${toString env}";
            assert check (static -> args.pname == "model-router-${env}") "static package ${args.pname} is not model-router-${env}";
            assert check (static -> args.cargoBuildFlags == [ "--bin" "model-router" ]) "a binary build must pass --bin model-router";
            assert check (static -> (args.doCheck or true) == false) "binaries do not rerun the tests";
            assert check (!static -> (args.doCheck or true) && (args.useNextest or false))
              "the test check must run cargo-nextest";
            stub "${args.pname}-${args.version}" ''
              mkdir -p $out/bin
              printf '#!/bin/sh\necho "stub ${args.pname} ${args.version} env=${env}"\n' > $out/bin/model-router
              chmod +x $out/bin/model-router
            '' { };
        in
        {
          inherit system;

          rustPlatform.buildRustPackage = buildRustPackage false;
          pkgsStatic.rustPlatform.buildRustPackage = buildRustPackage true;

          # dockerTools.buildLayeredImage: no base image, no extra contents, the gateway's
          # runtime contract (non-root uid/gid 65532, port 4000, the binary as entrypoint).
          dockerTools.buildLayeredImage = args:
            let config = args.config or { }; entry = config.Entrypoint or [ ];
            in
            assert check (args.name == "model-router") "image name must be model-router";
            assert check (builtins.elem (args.tag or null) envs) "image tag must be base or local";
            assert check (!(args ? fromImage)) "the image must have no base layer (fromImage)";
            assert check ((args.contents or [ ]) == [ ]) "the image must contain the binary only";
            assert check (config.User or null == "65532:65532") "image must run as 65532:65532";
            assert check (builtins.attrNames (config.ExposedPorts or { }) == [ "4000/tcp" ]) "image must expose 4000/tcp only";
            assert check (builtins.length entry == 1 && hasPrefix builtins.storeDir (builtins.head entry)
              && hasSuffix "/bin/model-router" (builtins.head entry)) "Entrypoint must be the binary in the store";
            stub "model-router-image-${args.tag}.json" ''
              printf '%s\n' "$imageConfig" > $out
            '' { imageConfig = builtins.toJSON config; };

          mkShell = args:
            let names = map (p: p.pname) (args.packages or [ ]);
            in
            assert check (builtins.all (n: builtins.elem n names) [ "cargo" "rustc" "cargo-nextest" "podman" "kubectl" ])
              "the dev shell needs cargo, rustc, cargo-nextest, podman and kubectl";
            stub "model-router-shell" "echo ${builtins.concatStringsSep " " names} > $out" { };

          # runCommand really runs the script, with the nativeBuildInputs' bin/ first on PATH.
          runCommand = name: env: script:
            stub name script (env // {
              PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") (env.nativeBuildInputs or [ ]) ++ [ "/usr/local/bin" "/usr/bin" "/bin" ]);
            });

          # kubectl is the host's (the stub's runCommand runs the flake's kustomize check with it).
          kubectl = stub "kubectl" ''
            mkdir -p $out/bin
            ln -s "$(command -v kubectl)" $out/bin/kubectl
          '' { pname = "kubectl"; };
        }
        // lib.genAttrs [ "cargo" "rustc" "clippy" "rustfmt" "cargo-nextest" "podman" "shellcheck" "hadolint" ] tool;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems pkgsFor;
    };
}
