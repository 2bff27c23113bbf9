//! The decision where the OS keeps a default device per *role* (Windows: console, multimedia and
//! communications for each direction; macOS: the default input, the default output and the
//! alert output): which endpoint is the headset's, and which roles, mute switches and volumes
//! must change. Pure, so it is tested on every OS; `windows.rs` and `macos.rs` read the
//! endpoints, call [`plan`] and carry out its [`Action`]s.

use super::{Change, FixError, LOW_INPUT_VOLUME, device_arg};
use proto::{Msg, MsgArg};
use shiftready_core::checks::headset::{FormFactor, Source, Transport};

/// Capture (a microphone) or render (a speaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

/// One default the OS keeps per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Windows `eConsole`; macOS the default input or output device.
    Console,
    /// Windows `eMultimedia` (Windows's "Default Device" is console and multimedia together).
    Multimedia,
    /// Windows `eCommunications`, the "Default Communication Device": softphones use it.
    Communications,
    /// macOS the system output (alerts and sound effects).
    Alerts,
}

impl Role {
    /// The roles a person sees as one setting share one [`Change`].
    fn group(self) -> Group {
        match self {
            Role::Console | Role::Multimedia => Group::Main,
            Role::Communications => Group::Communications,
            Role::Alerts => Group::Alerts,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Main,
    Communications,
    Alerts,
}

/// One active audio endpoint as the OS describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The OS's id (Windows: the MMDevice endpoint id; macOS: the device UID).
    pub id: String,
    pub name: String,
    pub direction: Direction,
    pub form_factor: FormFactor,
    pub transport: Transport,
    /// Which source decided the form factor ([`Source::Host`] or [`Source::Name`]).
    pub source: Source,
    /// What ties a headset's microphone to its speaker (Windows: the container id).
    pub group: String,
    pub muted: Option<bool>,
    /// The volume as a share of full scale (0.0–1.0), where the OS tells it.
    pub volume: Option<f64>,
}

impl Endpoint {
    pub fn is_headset(&self) -> bool {
        self.form_factor == FormFactor::Headset
    }
}

/// The endpoints and the defaults, read once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub endpoints: Vec<Endpoint>,
    /// The id of the default endpoint per direction and role (`None`: no default).
    pub defaults: Vec<(Direction, Role, Option<String>)>,
}

impl Snapshot {
    /// The default endpoint's id for a direction and role.
    pub fn default_of(&self, direction: Direction, role: Role) -> Option<&str> {
        self.defaults
            .iter()
            .find(|(d, r, _)| *d == direction && *r == role)
            .and_then(|(_, _, id)| id.as_deref())
    }

    fn name_of(&self, id: Option<&str>) -> MsgArg {
        device_arg(id.map(|id| {
            self.endpoints
                .iter()
                .find(|e| e.id == id)
                .map_or_else(|| id.to_string(), |e| e.name.clone())
        }))
    }
}

/// What the OS is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Make `id` the default for these roles.
    SetDefault {
        id: String,
        direction: Direction,
        roles: Vec<Role>,
    },
    Unmute {
        id: String,
        direction: Direction,
    },
    /// Set the volume to full (100 %, as on Linux).
    RaiseVolume {
        id: String,
    },
}

/// One change and the action that makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub change: Change,
    pub action: Action,
}

/// The headset endpoint for a direction: the one already default in some role (in the order the
/// roles are listed, console first), else one in the same group as `partner`, else the first.
fn pick<'a>(
    s: &'a Snapshot,
    direction: Direction,
    partner: Option<&Endpoint>,
) -> Option<&'a Endpoint> {
    let headsets = || {
        s.endpoints
            .iter()
            .filter(move |e| e.direction == direction && e.is_headset())
    };
    s.defaults
        .iter()
        .filter(|(d, _, _)| *d == direction)
        .find_map(|(_, _, id)| headsets().find(|e| Some(&e.id) == id.as_ref()))
        .or_else(|| {
            partner.and_then(|p| headsets().find(|e| !p.group.is_empty() && e.group == p.group))
        })
        .or_else(|| headsets().next())
}

/// The message and `kind` of a default changed for a group of roles.
fn default_change(direction: Direction, group: Group, name: &str, was: MsgArg) -> Change {
    let (kind, id) = match (direction, group) {
        (Direction::Input, Group::Communications) => {
            ("default_input_communications", "fix-default-comm-input")
        }
        (Direction::Output, Group::Communications) => {
            ("default_output_communications", "fix-default-comm-output")
        }
        (Direction::Output, Group::Alerts) => {
            ("default_output_alerts", "fix-default-alerts-output")
        }
        (Direction::Input, _) => ("default_input", "fix-default-input"),
        (Direction::Output, _) => ("default_output", "fix-default-output"),
    };
    Change::new(kind, Msg::new(id).text("name", name).arg("was", was))
}

/// The steps for one direction's headset endpoint: its defaults, then mute, then volume.
fn steps_for(s: &Snapshot, e: &Endpoint, out: &mut Vec<Step>) {
    // The roles of this direction not on the headset, grouped as a person sees them.
    let mut groups: Vec<(Group, Vec<Role>, Option<&str>)> = Vec::new();
    for (d, role, current) in &s.defaults {
        if *d != e.direction || current.as_deref() == Some(e.id.as_str()) {
            continue;
        }
        match groups.iter_mut().find(|(g, _, _)| *g == role.group()) {
            Some((_, roles, _)) => roles.push(*role),
            None => groups.push((role.group(), vec![*role], current.as_deref())),
        }
    }
    for (group, roles, was) in groups {
        out.push(Step {
            change: default_change(e.direction, group, &e.name, s.name_of(was)),
            action: Action::SetDefault {
                id: e.id.clone(),
                direction: e.direction,
                roles,
            },
        });
    }
    let (unmute_kind, unmute_msg) = match e.direction {
        Direction::Input => ("unmute_input", "fix-unmute-input"),
        Direction::Output => ("unmute_output", "fix-unmute-output"),
    };
    if e.muted == Some(true) {
        out.push(Step {
            change: Change::new(unmute_kind, Msg::new(unmute_msg).text("name", &e.name)),
            action: Action::Unmute {
                id: e.id.clone(),
                direction: e.direction,
            },
        });
    }
    if e.direction == Direction::Input
        && let Some(v) = e.volume.filter(|v| *v < LOW_INPUT_VOLUME)
    {
        out.push(Step {
            change: Change::new(
                "input_volume",
                Msg::new("fix-input-volume")
                    .text("name", &e.name)
                    .arg("from", MsgArg::Num(v * 100.0, 0)),
            ),
            action: Action::RaiseVolume { id: e.id.clone() },
        });
    }
}

/// The changes that make the headset the default in every role, unmuted, with a usable
/// microphone level, in the order they are made (input first, as on Linux); empty when all is
/// right already.
pub fn plan(s: &Snapshot) -> Result<Vec<Step>, FixError> {
    let input = pick(s, Direction::Input, None);
    let output = pick(s, Direction::Output, input);
    if input.is_none() && output.is_none() {
        return Err(FixError::NoHeadset);
    }
    let mut out = Vec::new();
    for e in [input, output].into_iter().flatten() {
        steps_for(s, e, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(id: &str, name: &str, d: Direction, form: FormFactor, group: &str) -> Endpoint {
        Endpoint {
            id: id.into(),
            name: name.into(),
            direction: d,
            form_factor: form,
            transport: Transport::Unknown,
            source: Source::Host,
            group: group.into(),
            muted: Some(false),
            volume: Some(1.0),
        }
    }

    /// A laptop with a built-in microphone and speaker and a USB headset, plus a second headset
    /// whose speaker is listed first; `defaults` gives (direction, role, id) triples.
    fn windows(defaults: &[(Direction, Role, &str)]) -> Snapshot {
        use Direction::*;
        Snapshot {
            endpoints: vec![
                ep(
                    "mic",
                    "Microphone Array (Realtek)",
                    Input,
                    FormFactor::Microphone,
                    "c-builtin",
                ),
                ep(
                    "spk",
                    "Speakers (Realtek)",
                    Output,
                    FormFactor::Speaker,
                    "c-builtin",
                ),
                ep(
                    "other_out",
                    "Headphones (Other Headset)",
                    Output,
                    FormFactor::Headset,
                    "c-other",
                ),
                ep(
                    "hs_in",
                    "Headset Microphone (Jabra Evolve2 40)",
                    Input,
                    FormFactor::Headset,
                    "c-jabra",
                ),
                ep(
                    "hs_out",
                    "Headset Earphone (Jabra Evolve2 40)",
                    Output,
                    FormFactor::Headset,
                    "c-jabra",
                ),
            ],
            defaults: defaults
                .iter()
                .map(|(d, r, id)| (*d, *r, Some(id.to_string())))
                .collect(),
        }
    }

    fn all_roles(input: &str, output: &str) -> Vec<(Direction, Role, &'static str)> {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        let mut v = Vec::new();
        for r in [Role::Console, Role::Multimedia, Role::Communications] {
            v.push((Direction::Input, r, leak(input)));
            v.push((Direction::Output, r, leak(output)));
        }
        v
    }

    fn kinds(p: &[Step]) -> Vec<&'static str> {
        p.iter().map(|s| s.change.kind).collect()
    }

    /// Everything on the built-in device: both groups of roles move to the headset, the
    /// speaker chosen by the microphone's container, not the first headset speaker listed.
    #[test]
    fn builtin_everywhere_moves_every_role_to_the_headset() {
        let p = plan(&windows(&all_roles("mic", "spk"))).unwrap();
        assert_eq!(
            kinds(&p),
            [
                "default_input",
                "default_input_communications",
                "default_output",
                "default_output_communications"
            ]
        );
        assert_eq!(
            p[0].action,
            Action::SetDefault {
                id: "hs_in".into(),
                direction: Direction::Input,
                roles: vec![Role::Console, Role::Multimedia]
            }
        );
        assert_eq!(
            p[1].action,
            Action::SetDefault {
                id: "hs_in".into(),
                direction: Direction::Input,
                roles: vec![Role::Communications]
            }
        );
        assert!(matches!(&p[2].action, Action::SetDefault { id, .. } if id == "hs_out"));
        assert_eq!(
            p[1].change.what,
            "Headset Microphone (Jabra Evolve2 40) is now the default communications microphone, the one calling apps use (was Microphone Array (Realtek))."
        );
    }

    /// The headset is the communications default but not the console default: only the
    /// console and multimedia roles change, and the headset is found through the communications
    /// role (it is the one calls already use).
    #[test]
    fn communications_right_console_wrong_changes_only_console_and_multimedia() {
        let mut d = all_roles("mic", "spk");
        for (dir, role, id) in d.iter_mut() {
            if *role == Role::Communications {
                *id = if *dir == Direction::Input {
                    "hs_in"
                } else {
                    "hs_out"
                };
            }
        }
        let p = plan(&windows(&d)).unwrap();
        assert_eq!(kinds(&p), ["default_input", "default_output"]);
        for s in &p {
            let Action::SetDefault { roles, .. } = &s.action else {
                panic!("{s:?}")
            };
            assert_eq!(roles, &[Role::Console, Role::Multimedia]);
        }
    }

    /// The reverse: console right, communications on the built-in device.
    #[test]
    fn console_right_communications_wrong_changes_only_communications() {
        let mut d = all_roles("hs_in", "hs_out");
        d.retain(|(_, r, _)| *r != Role::Communications);
        d.push((Direction::Input, Role::Communications, "mic"));
        d.push((Direction::Output, Role::Communications, "spk"));
        let p = plan(&windows(&d)).unwrap();
        assert_eq!(
            kinds(&p),
            [
                "default_input_communications",
                "default_output_communications"
            ]
        );
        assert_eq!(
            p[1].change.what,
            "Headset Earphone (Jabra Evolve2 40) is now the default communications speaker, the one calling apps use (was Speakers (Realtek))."
        );
    }

    /// Multimedia alone wrong still changes (console and multimedia are one setting for a
    /// person, but each role is set): the roles listed are exactly the wrong ones.
    #[test]
    fn only_the_wrong_roles_are_listed() {
        let mut d = all_roles("hs_in", "hs_out");
        d.retain(|(dir, r, _)| !(*dir == Direction::Output && *r == Role::Multimedia));
        d.push((Direction::Output, Role::Multimedia, "spk"));
        let p = plan(&windows(&d)).unwrap();
        assert_eq!(
            p.iter().map(|s| &s.action).collect::<Vec<_>>(),
            [&Action::SetDefault {
                id: "hs_out".into(),
                direction: Direction::Output,
                roles: vec![Role::Multimedia]
            }]
        );
    }

    #[test]
    fn muted_quiet_microphone_is_unmuted_and_raised_and_right_is_nothing() {
        let mut s = windows(&all_roles("hs_in", "hs_out"));
        assert!(plan(&s).unwrap().is_empty());
        let mic = s.endpoints.iter_mut().find(|e| e.id == "hs_in").unwrap();
        mic.muted = Some(true);
        mic.volume = Some(0.04);
        let spk = s.endpoints.iter_mut().find(|e| e.id == "hs_out").unwrap();
        spk.muted = Some(true);
        spk.volume = Some(0.01); // a quiet speaker is the person's choice: left alone
        let p = plan(&s).unwrap();
        assert_eq!(kinds(&p), ["unmute_input", "input_volume", "unmute_output"]);
        assert_eq!(p[1].action, Action::RaiseVolume { id: "hs_in".into() });
        assert_eq!(
            p[1].change.what,
            "The microphone volume of Headset Microphone (Jabra Evolve2 40) went from 4 % to 100 %."
        );
    }

    #[test]
    fn no_headset_is_an_error_and_no_default_is_said_as_a_word() {
        let mut s = windows(&all_roles("mic", "spk"));
        s.endpoints.retain(|e| !e.is_headset());
        assert!(matches!(plan(&s), Err(FixError::NoHeadset)));
        // A headset and no default at all (a role Windows has no device for).
        let mut s = windows(&[]);
        s.defaults = vec![(Direction::Input, Role::Console, None)];
        let p = plan(&s).unwrap();
        assert_eq!(
            p[0].change.what,
            "Headset Microphone (Jabra Evolve2 40) is now the default microphone (was nothing)."
        );
    }

    /// macOS's three properties: the alert output is its own change.
    #[test]
    fn macos_alert_output_is_its_own_change() {
        use Direction::*;
        let s = Snapshot {
            endpoints: vec![
                ep(
                    "BuiltInMic",
                    "MacBook Pro Microphone",
                    Input,
                    FormFactor::Microphone,
                    "",
                ),
                ep(
                    "BuiltInSpk",
                    "MacBook Pro Speakers",
                    Output,
                    FormFactor::Speaker,
                    "",
                ),
                ep(
                    "Jabra",
                    "Jabra Evolve2 40",
                    Input,
                    FormFactor::Headset,
                    "Jabra",
                ),
                ep(
                    "Jabra",
                    "Jabra Evolve2 40",
                    Output,
                    FormFactor::Headset,
                    "Jabra",
                ),
            ],
            defaults: vec![
                (Input, Role::Console, Some("BuiltInMic".into())),
                (Output, Role::Console, Some("Jabra".into())),
                (Output, Role::Alerts, Some("BuiltInSpk".into())),
            ],
        };
        let p = plan(&s).unwrap();
        assert_eq!(kinds(&p), ["default_input", "default_output_alerts"]);
        assert_eq!(
            p[1].change.what,
            "Jabra Evolve2 40 now also plays alert sounds (was MacBook Pro Speakers)."
        );
    }
}
