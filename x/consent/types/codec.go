package types

import (
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/legacy"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
)

// RegisterLegacyAminoCodec registers the messages for amino JSON signing; names
// match the amino.name proto options (at most 39 characters).
func RegisterLegacyAminoCodec(cdc *codec.LegacyAmino) {
	legacy.RegisterAminoMsg(cdc, &MsgRegisterPatient{}, "healthd/consent/MsgRegisterPatient")
	legacy.RegisterAminoMsg(cdc, &MsgUpdatePatient{}, "healthd/consent/MsgUpdatePatient")
	legacy.RegisterAminoMsg(cdc, &MsgAddDelegate{}, "healthd/consent/MsgAddDelegate")
	legacy.RegisterAminoMsg(cdc, &MsgRemoveDelegate{}, "healthd/consent/MsgRemoveDelegate")
	legacy.RegisterAminoMsg(cdc, &MsgGrantConsent{}, "healthd/consent/MsgGrantConsent")
	legacy.RegisterAminoMsg(cdc, &MsgRevokeConsent{}, "healthd/consent/MsgRevokeConsent")
	legacy.RegisterAminoMsg(cdc, &MsgBreakGlass{}, "healthd/consent/MsgBreakGlass")
	legacy.RegisterAminoMsg(cdc, &MsgReviewEmergencyAccess{}, "healthd/consent/MsgReviewEmergency")
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "healthd/consent/MsgUpdateParams")
	legacy.RegisterAminoMsg(cdc, &MsgEscrowKeys{}, "healthd/consent/MsgEscrowKeys")
	legacy.RegisterAminoMsg(cdc, &MsgReleaseKeyShares{}, "healthd/consent/MsgReleaseKeyShares")
	legacy.RegisterAminoMsg(cdc, &MsgRotateClassKeys{}, "healthd/consent/MsgRotateClassKeys")
	cdc.RegisterConcrete(&Params{}, "healthd/consent/Params", nil)
}

// RegisterInterfaces registers the messages with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgRegisterPatient{}, &MsgUpdatePatient{}, &MsgAddDelegate{}, &MsgRemoveDelegate{},
		&MsgGrantConsent{}, &MsgRevokeConsent{}, &MsgBreakGlass{}, &MsgReviewEmergencyAccess{},
		&MsgUpdateParams{}, &MsgEscrowKeys{}, &MsgReleaseKeyShares{}, &MsgRotateClassKeys{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
