//! The HTTP server, assembled the way actix-web's `HttpServer` does it plus
//! actix-http's `upgrade` hook (which `HttpServer` does not offer):
//! WebSocket handshakes leave the HTTP/1 dispatcher with their connection
//! (`http::ws`); every other request goes to the actix-web `App`.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, Service};
use actix_web::{App, web};

use crate::http::{self, AppState, access_log};

pub fn serve(
    listener: TcpListener,
    local: SocketAddr,
    state: web::Data<AppState>,
    workers: Option<usize>,
) -> io::Result<actix_server::Server> {
    let origins = state.allowed_origins.clone();
    let access_log = state.access_log;
    let mut server = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(5);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server
        .listen("alerthub", listener, move || {
            // Runs on each worker's thread, as it starts.
            super::allocator::hand_back_on_this_thread();
            let app = App::new()
                .app_data(state.clone())
                .configure(|cfg| http::routes(cfg, &origins))
                .wrap_fn(move |req, srv| {
                    let started = Instant::now();
                    let head =
                        access_log.then(|| (req.method().to_string(), req.path().to_owned()));
                    let call = srv.call(req);
                    async move {
                        let response = call.await?;
                        if let Some((method, path)) = head {
                            access_log::record(&method, &path, &response, started);
                        }
                        Ok(response)
                    }
                })
                .into_factory()
                .map_err(|e| e.error_response());
            HttpService::build()
                .keep_alive(Duration::from_secs(5))
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .tcp_nodelay(true)
                .local_addr(local)
                .upgrade(http::ws::upgrade_service(state.clone()))
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp()
        })?
        .run())
}
